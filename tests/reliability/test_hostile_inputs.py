"""Hostile and malformed input: bombs, deep nesting, huge numbers, oversize and non-regular files.

Every case below once hung ``btp-infra`` (alias bombs, FIFOs, ``/dev/zero``, tens of MB of YAML) or ended
in a traceback (deep nesting, integers beyond Python's 4300-digit conversion limit, a corrupted keyring,
non-UTF-8 files). Now each one gets one clear line naming the file (and the key where there is one), in
bounded time and memory, before any API call; ``plan --all`` reports every stack, the bad one as invalid.
The real entry point runs in a child process with an address-space limit and a timeout wherever a
regression could hang or eat memory (:func:`support.run_btp_infra`): a regression fails, it does not hang
the suite.

The cases are counted in :data:`CASES` (one entry per hostile or malformed input).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keyring
import pytest
from click.testing import CliRunner
from keyrings.alt.file import PlaintextKeyring

from btp_infra.cli import main as cli
from btp_infra.config import (
    ConfigError,
    ConfigIssue,
    engine_config,
    from_pulumi_config,
    load_stack_file,
    parse_duration,
)
from btp_infra.config.keys import CONFIG_KEYS
from btp_infra.offline import runner as planning

from .support import cis_key_document, one_error_line, run_btp_infra

GUID = "553bcbbb-e809-450f-82db-60de3ef76b1f"
OTHER_GUID = "0b6f1a52-3c4d-4e8f-9a7b-2c1d5e6f7a8b"
HEAD = (
    f"config:\n  btp-infra:namespace: incident\n  btp-infra:subaccountId: {GUID}\n"
    "  btp-infra:kubeContext: ctx\n"
)
KEY_SECRET = "KEY-SECRET-sentinel-hostile-8e1d"
LINE_LIMIT = 600 + len(", ".join(CONFIG_KEYS))
"""No error line may be longer than this: values are rendered in at most ~60 characters, whatever the input;
the longest legitimate line is an unknown key's, which lists every config key as what is valid."""

CASES: list[str] = []
"""Every hostile or malformed input of this module, by id (filled in as the tables below are defined)."""


def counted(*ids: str) -> list[str]:
    CASES.extend(ids)
    return list(ids)


def good_key() -> dict[str, Any]:
    return cis_key_document(KEY_SECRET)


def deep_json(levels: int = 20_000) -> str:
    return '{"uaa": ' + "[" * levels + "]" * levels + "}"


def huge_int_json() -> str:
    return '{"uaa": {"clientid": ' + "9" * 5000 + "}}"


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def assert_bounded_line(text: str, *needles: str) -> None:
    assert "Traceback" not in text, text
    assert "\n" not in text.strip(), text
    assert len(text) < LINE_LIMIT, text[:300]
    for needle in needles:
        assert needle in text, (needle, text[:300])
    assert KEY_SECRET not in text


# ----------------------------------------------------------------------------------------------------------
# Stack files through `btp-infra plan --stack FILE --json`
# ----------------------------------------------------------------------------------------------------------


def billion_laughs() -> str:
    """The issue's bomb (about 600 bytes): nine anchors of nine aliases each, the last one used as labels."""
    lines = ["  kubernetes:a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"  kubernetes:a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    return HEAD + "\n".join(lines) + "\n  btp-infra:labels: *a8\n"


def inline_bomb() -> str:
    """The same bomb inside one flow sequence."""
    items = ["&b0 [x,x,x,x,x,x,x,x,x]"] + [
        f"&b{i} [" + ",".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, 9)
    ]
    return HEAD + "  btp-infra:entitlements: [" + ", ".join(items) + "]\n"


def explicit_key(key: str, indent: str = "  ") -> str:
    """A mapping entry with a very long key (plain and quoted simple keys are limited to 1024 characters)."""
    return f'{indent}? "{key}"\n{indent}: 1\n'


LONG = "k" * 300_000


@dataclass(frozen=True)
class HostileStack:
    id: str
    text: Callable[[], str]
    needles: tuple[str, ...]  # what the one error line must say besides the file
    timeout: float = 30.0


HOSTILE_STACKS = [
    HostileStack("billion-laughs-alias-bomb", billion_laughs, ("alias", "kubernetes:a")),
    HostileStack("alias-bomb-in-one-flow-sequence", inline_bomb, ("alias", "btp-infra:entitlements")),
    HostileStack(
        "nested-50000-sequences",
        lambda: HEAD + "  btp-infra:labels: " + "[" * 50_000 + "]" * 50_000 + "\n",
        ("nested", "btp-infra:labels"),
    ),
    HostileStack(
        "nested-20000-mappings",
        lambda: HEAD + "  btp-infra:limitRange: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n",
        ("nested", "btp-infra:limitRange"),
    ),
    HostileStack(
        "integer-of-5000-digits",
        lambda: HEAD + "  btp-infra:protect: " + "9" * 5000 + "\n",
        ("digits", "btp-infra:protect"),
    ),
    HostileStack(
        "base-60-integer-beyond-4300-digits",
        lambda: HEAD + "  btp-infra:protect: 1" + ":59" * 3000 + "\n",
        ("digits", "btp-infra:protect"),
    ),
    HostileStack(
        "hex-integer-beyond-4300-digits",
        lambda: HEAD + "  btp-infra:protect: 0x" + "f" * 4000 + "\n",
        ("digits", "btp-infra:protect"),
    ),
    HostileStack(
        "timeout-of-400-digits",
        lambda: HEAD + "  btp-infra:timeouts: {instance: " + "9" * 400 + "}\n",
        ("btp-infra:timeouts.instance", "24h"),
    ),
    HostileStack(
        "impossible-date-2001-13-45",
        lambda: HEAD + "  btp-infra:region: 2001-13-45\n",
        ("btp-infra:region", "date"),
    ),
    HostileStack(
        "stack-file-of-20-mib",
        lambda: HEAD + "  btp-infra:labels: [" + "1," * 10_000_000 + "]\n",
        ("MiB",),
        timeout=20.0,
    ),
    HostileStack(
        "450000-values-under-the-size-cap",
        lambda: HEAD + "  btp-infra:labels: [" + "1," * 450_000 + "]\n",
        ("values", "btp-infra:labels"),
        timeout=20.0,
    ),
    HostileStack(
        "alias-repeating-a-500-kb-string",
        lambda: (
            HEAD
            + f'  kubernetes:x: &x "{"q" * 500_000}"\n'
            + "  btp-infra:labels: ["
            + ", ".join(["*x"] * 1000)
            + "]\n"
        ),
        ("of text", "alias", "btp-infra:labels"),
    ),
    HostileStack("long-unknown-top-level-key", lambda: explicit_key(LONG, "") + HEAD, ("top-level key",)),
    HostileStack(
        "long-unknown-btp-infra-key", lambda: HEAD + explicit_key("btp-infra:" + LONG), ("not a known key",)
    ),
    HostileStack("long-key-without-namespace", lambda: HEAD + explicit_key(LONG), ("no namespace",)),
    HostileStack("long-unknown-namespace", lambda: HEAD + explicit_key(LONG + ":x"), ("namespace",)),
    HostileStack(
        "long-duplicate-key",
        lambda: HEAD + explicit_key("btp-infra:" + LONG) * 2,
        ("duplicate key",),
    ),
]
counted(*(c.id for c in HOSTILE_STACKS))


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", HOSTILE_STACKS, ids=[c.id for c in HOSTILE_STACKS])
def test_hostile_stack_file_gets_one_line_in_bounded_time(case: HostileStack, tmp_path: Path) -> None:
    path = tmp_path / f"Pulumi.{case.id}.yaml"
    path.write_text(case.text(), encoding="utf-8")
    run = run_btp_infra("plan", "--stack", str(path), "--json", home=tmp_path, timeout=case.timeout)
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.returncode == 1, (run.returncode, run.stderr[-2000:])
    report = json.loads(run.stdout)
    [entry] = report["stacks"]
    assert entry["status"] == "invalid-config", entry
    assert entry["resources"] == []
    assert_bounded_line(entry["error"]["message"], str(path), *case.needles)


@pytest.mark.timeout(30)
def test_billion_laughs_text_report_and_engine_config(tmp_path: Path) -> None:
    """The headline case also through the text report, and through the engine-form reader the plan and the
    scrubber use: both refuse the file instead of expanding it."""
    path = tmp_path / "Pulumi.bomb.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    assert len(path.read_bytes()) < 700
    run = run_btp_infra("plan", "--stack", str(path), home=tmp_path, timeout=20)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0] == f"== bomb ({path}): INVALID CONFIG"
    assert lines[1] == "  Invalid config:"
    assert_bounded_line(lines[2], str(path), "alias")
    assert lines[3] == ""
    with pytest.raises(ConfigError, match="alias"):
        engine_config(path)


@pytest.mark.timeout(15)
def test_a_fifo_stack_file_is_refused_without_blocking(tmp_path: Path) -> None:
    """Opening a FIFO for reading blocks until a writer comes; the loaders never open one."""
    path = fifo(tmp_path / "Pulumi.fifo.yaml")
    for reader in (load_stack_file, engine_config):
        with pytest.raises(ConfigError) as info:
            reader(path)
        assert_bounded_line(str(info.value), str(path), "not a regular file")


counted("stack-file-is-a-fifo")


# ---- value rendering -------------------------------------------------------------------------------------


def shared_list_bomb() -> list[Any]:
    """9**9 leaves in a few hundred bytes of memory: every level shares one list nine times."""
    value: list[Any] = ["lol"] * 9
    for _ in range(8):
        value = [value] * 9
    return value


@pytest.mark.timeout(10)
def test_values_are_rendered_bounded_without_a_full_repr() -> None:
    """Messages show a value in at most ~60 characters, computed without the value's full ``repr``: for a
    shared-reference bomb that would never finish, and for an integer beyond 4300 digits it raises."""
    with pytest.raises(ValueError) as info:
        parse_duration(shared_list_bomb())
    assert_bounded_line(str(info.value), "[[[[", "…", "must be a number of seconds")
    line = ConfigIssue("Pulumi.x.yaml", "labels", 7**60_000, "must be a mapping", "a mapping").render()
    assert line.startswith("Pulumi.x.yaml: btp-infra:labels: ")
    assert_bounded_line(line, "digits", "must be a mapping")


counted("render-shared-list-bomb", "render-int-beyond-4300-digits")


# ---- engine-form config (what the program gets from Pulumi) ----------------------------------------------


@pytest.mark.timeout(15)
@pytest.mark.parametrize(
    ("key", "text", "needle"),
    [
        ("labels", "[" * 100_000 + "]" * 100_000, "nested"),
        (
            "entitlements",
            '[{"service": "hana-cloud", "plan": "hana", "amount": ' + "9" * 5000 + "}]",
            "digits",
        ),
    ],
    ids=counted("engine-json-nested-100000-levels", "engine-json-integer-of-5000-digits"),
)
def test_engine_form_json_values_are_bounded(key: str, text: str, needle: str) -> None:
    values = {
        "btp-infra:namespace": "incident",
        "btp-infra:subaccountId": GUID,
        "btp-infra:kubeContext": "kyma",
        f"btp-infra:{key}": text,
    }
    with pytest.raises(ConfigError) as info:
        from_pulumi_config(values, source="stacks/Pulumi.incident.yaml")
    assert_bounded_line(str(info.value), "stacks/Pulumi.incident.yaml", f"btp-infra:{key}", needle)


# ----------------------------------------------------------------------------------------------------------
# `plan --all`: one bad stack never hides the others
# ----------------------------------------------------------------------------------------------------------


def good_stack(namespace: str, guid: str) -> str:
    return (
        f"config:\n  btp-infra:namespace: {namespace}\n  btp-infra:subaccountId: {guid}\n"
        "  btp-infra:kubeContext: ctx\n"
    )


BAD_AMONG_GOOD = {
    "deeply-nested": HEAD + "  btp-infra:labels: " + "[" * 50_000 + "]" * 50_000 + "\n",
    "integer-of-5000-digits": HEAD + "  btp-infra:protect: " + "9" * 5000 + "\n",
    "alias-bomb": billion_laughs(),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bad", list(BAD_AMONG_GOOD), ids=counted(*(f"plan-all-{b}" for b in BAD_AMONG_GOOD)))
def test_plan_all_json_reports_every_stack_when_one_is_hostile(bad: str, tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.a-good.yaml").write_text(good_stack("alpha", OTHER_GUID), encoding="utf-8")
    (stacks / "Pulumi.b-bad.yaml").write_text(BAD_AMONG_GOOD[bad], encoding="utf-8")
    (stacks / "Pulumi.c-good.yaml").write_text(
        good_stack("gamma", "11111111-2222-4333-8444-555555555555"), encoding="utf-8"
    )
    run = run_btp_infra("plan", "--all", "--json", "--stacks-dir", str(stacks), home=tmp_path, timeout=60)
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.returncode == 1
    report = json.loads(run.stdout)
    by_name = {s["stack"]: s for s in report["stacks"]}
    assert list(by_name) == ["a-good", "b-bad", "c-good"]
    assert by_name["b-bad"]["status"] == "invalid-config"
    assert_bounded_line(by_name["b-bad"]["error"]["message"], str(stacks / "Pulumi.b-bad.yaml"))
    for name in ("a-good", "c-good"):
        assert by_name[name]["status"] != "invalid-config", by_name[name]
        assert by_name[name]["resources"], "the good stacks are rendered"
    assert report["summary"]["stacks"] == 3 and report["summary"]["invalidConfig"] == 1


@pytest.mark.timeout(60)
def test_a_hostile_pulumi_yaml_does_not_stop_the_plan(tmp_path: Path) -> None:
    """``Pulumi.yaml`` (read for ``stackConfigDir``) comes with the pull request too: a deeply nested one is
    unreadable, so the stacks are looked for next to it, as for any unreadable project file."""
    (tmp_path / "Pulumi.yaml").write_text("name: btp-infra\nx: " + "[" * 50_000 + "]" * 50_000 + "\n")
    (tmp_path / "Pulumi.a.yaml").write_text(good_stack("alpha", GUID), encoding="utf-8")
    run = run_btp_infra("plan", "--all", "--json", home=tmp_path, cwd=tmp_path, timeout=40)
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert [s["stack"] for s in json.loads(run.stdout)["stacks"]] == ["a"]


counted("pulumi-yaml-nested-50000-levels")


def three_stacks(directory: Path, bad_text: str) -> list[Path]:
    paths = [directory / f"Pulumi.{n}.yaml" for n in ("a-good", "b-bad", "c-good")]
    paths[0].write_text(good_stack("alpha", OTHER_GUID), encoding="utf-8")
    paths[1].write_text(bad_text, encoding="utf-8")
    paths[2].write_text(good_stack("gamma", "11111111-2222-4333-8444-555555555555"), encoding="utf-8")
    return paths


def reported(paths: list[Path]) -> dict[str, dict[str, Any]]:
    report, scrub = planning.run_plan(paths)
    data = json.loads(planning.format_json(report, scrub))
    assert [s["file"] for s in data["stacks"]] == [str(p) for p in paths]
    return {s["stack"]: s for s in data["stacks"]}


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "phase", ["load_stack_file", "render"], ids=counted("crash-loading", "crash-rendering")
)
def test_an_unexpected_crash_in_one_stack_is_that_stacks_error(
    phase: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong for one stack (here: a bug planted in loading or rendering) becomes that stack's
    report; the run goes on and the JSON holds every stack."""
    paths = three_stacks(tmp_path, good_stack("beta", GUID))
    original = getattr(planning, phase)

    def crash_for_b(*args: Any, **kwargs: Any) -> Any:
        first = args[0]
        if "b-bad" in str(first) or first == "b-bad":
            raise RuntimeError("planted crash")
        return original(*args, **kwargs)

    monkeypatch.setattr(planning, phase, crash_for_b)
    stacks = reported(paths)
    assert stacks["b-bad"]["status"] in ("invalid-config", "error"), stacks["b-bad"]
    assert_bounded_line(stacks["b-bad"]["error"]["message"], "RuntimeError", "planted crash")
    assert stacks["a-good"]["resources"] and stacks["c-good"]["resources"]


KUBECONFIG_BOMB = (
    "a0: &a0 ["
    + ",".join(["tokentokentokentoken"] * 9)
    + "]\n"
    + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9))
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "kubeconfig",
    [KUBECONFIG_BOMB, "[" * 20_000 + "]" * 20_000],
    ids=counted("plaintext-kubeconfig-alias-bomb", "plaintext-kubeconfig-nested-20000-levels"),
)
def test_a_hostile_plaintext_secret_does_not_hang_or_abort_the_plan(kubeconfig: str, tmp_path: Path) -> None:
    """Secret config values are parsed to scrub their leaves from the output; a bomb or a deeply nested
    document there must neither hang the plan nor abort it."""
    bad = HEAD + "  btp-infra:kubeconfig: " + json.dumps(kubeconfig) + "\n"
    paths = three_stacks(tmp_path, bad)
    stacks = reported(paths)
    assert set(stacks) == {"a-good", "b-bad", "c-good"}
    assert stacks["a-good"]["resources"] and stacks["c-good"]["resources"]
    if stacks["b-bad"]["error"] is not None:
        assert_bounded_line(stacks["b-bad"]["error"]["message"])


# ----------------------------------------------------------------------------------------------------------
# BTP_CIS_SERVICE_KEY_FILE / BTP_CIS_SERVICE_KEY (what every provider call reads), via `credentials which`
# ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostileKeyFile:
    id: str
    make: Callable[[Path], Path]
    needles: tuple[str, ...]


def written(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        path.write_bytes(data)
        return path

    return make


HOSTILE_KEY_FILES = [
    HostileKeyFile("key-file-is-a-fifo", lambda d: fifo(d / "cis-key.json"), ("not a regular file",)),
    HostileKeyFile("key-file-is-dev-zero", lambda d: Path("/dev/zero"), ("not a regular file",)),
    HostileKeyFile(
        "key-file-of-1-mib",
        written("cis-key.json", json.dumps(good_key()).encode() + b" " * 2**20),
        ("KiB",),
    ),
    HostileKeyFile(
        "key-file-nested-20000-levels", written("cis-key.json", deep_json().encode()), ("nested",)
    ),
    HostileKeyFile(
        "key-file-integer-of-5000-digits", written("cis-key.json", huge_int_json().encode()), ("digits",)
    ),
]
counted(*(c.id for c in HOSTILE_KEY_FILES))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", HOSTILE_KEY_FILES, ids=[c.id for c in HOSTILE_KEY_FILES])
def test_hostile_key_file_gets_one_line_without_blocking(case: HostileKeyFile, tmp_path: Path) -> None:
    path = case.make(tmp_path)
    run = run_btp_infra(
        "credentials", "which", home=tmp_path, env={"BTP_CIS_SERVICE_KEY_FILE": str(path)}, timeout=20
    )
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr[-2000:])
    line = one_error_line(run.stderr)
    assert_bounded_line(line, f"BTP_CIS_SERVICE_KEY_FILE={path}", *case.needles)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "needle"),
    [(json.dumps(good_key()) + " " * 100_000, "KiB"), (deep_json(), "nested")],
    ids=counted("key-env-of-100-kib", "key-env-nested-20000-levels"),
)
def test_hostile_key_in_the_environment_gets_one_line(text: str, needle: str, tmp_path: Path) -> None:
    run = run_btp_infra("credentials", "which", home=tmp_path, env={"BTP_CIS_SERVICE_KEY": text}, timeout=20)
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr[-2000:])
    assert_bounded_line(one_error_line(run.stderr), "env BTP_CIS_SERVICE_KEY", needle)


# ----------------------------------------------------------------------------------------------------------
# The keyring: a corrupted backend file or entry (keyrings.alt's plaintext file, as in the suite's `kr`)
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def stored(kr: PlaintextKeyring) -> PlaintextKeyring:
    """``kr`` holding a valid key under profile ``prof``."""
    result = CliRunner().invoke(cli, ["credentials", "set", "prof"], input=json.dumps(good_key()))
    assert result.exit_code == 0, result.output
    return kr


def corrupt_file(kr: PlaintextKeyring) -> None:
    Path(kr.file_path).write_text(f"no section header\n{KEY_SECRET}\n", encoding="utf-8")


def non_utf8_file(kr: PlaintextKeyring) -> None:
    Path(kr.file_path).write_bytes(b"\xff\xfe[btp_2Dinfra]\nprof = " + KEY_SECRET.encode() + b"\n")


def corrupt_entry(kr: PlaintextKeyring) -> None:
    text = Path(kr.file_path).read_text(encoding="utf-8")
    start = text.index("prof = ")
    Path(kr.file_path).write_text(text[:start] + "prof = !!!" + KEY_SECRET + "\n", encoding="utf-8")


def entry(document: str) -> Callable[[PlaintextKeyring], None]:
    def put(kr: PlaintextKeyring) -> None:
        keyring.set_password("btp-infra", "prof", document)

    return put


KEYRING_DAMAGE: dict[str, Callable[[PlaintextKeyring], None]] = {
    "keyring-file-without-sections": corrupt_file,
    "keyring-file-not-utf8": non_utf8_file,
    "keyring-entry-not-base64-utf8": corrupt_entry,
    "keyring-entry-nested-20000-levels": entry(deep_json()),
    "keyring-entry-integer-of-5000-digits": entry(huge_int_json()),
}
KEYRING_COMMANDS = {
    "which": ["credentials", "which", "--profile", "prof"],
    "set": ["credentials", "set", "prof"],
    "delete": ["credentials", "delete", "prof"],
}
KEYRING_CASES = [(damage, "which") for damage in KEYRING_DAMAGE] + [
    ("keyring-file-without-sections", "set"),
    ("keyring-file-without-sections", "delete"),
]
counted(*(f"{damage}-{command}" for damage, command in KEYRING_CASES))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("damage", "command"), KEYRING_CASES, ids=[f"{d}-{c}" for d, c in KEYRING_CASES])
def test_a_damaged_keyring_gets_one_line_without_its_content(
    damage: str, command: str, stored: PlaintextKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BTP_CIS_SERVICE_KEY", "BTP_CIS_SERVICE_KEY_FILE", "BTP_INFRA_KEYRING_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    KEYRING_DAMAGE[damage](stored)
    result = CliRunner().invoke(cli, KEYRING_COMMANDS[command], input=json.dumps(good_key()))
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    line = one_error_line(result.output)
    assert_bounded_line(line, "btp-infra/prof")


# ----------------------------------------------------------------------------------------------------------
# `credentials set --file`: regular files or stdin only, bounded, UTF-8
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: fifo(d / "cis-key.json"), "not a regular file"),
        (lambda d: Path("/dev/zero"), "not a regular file"),
    ],
    ids=counted("set-file-is-a-fifo", "set-file-is-dev-zero"),
)
def test_credentials_set_refuses_special_files_without_blocking(
    make: Callable[[Path], Path], needle: str, tmp_path: Path
) -> None:
    path = make(tmp_path)
    run = run_btp_infra("credentials", "set", "prof", "--file", str(path), home=tmp_path, timeout=20)
    assert run.returncode == 1, (run.returncode, run.stderr[-2000:])
    assert_bounded_line(one_error_line(run.stderr), str(path), needle)
    assert not (tmp_path / "python_keyring").exists(), "nothing was stored"


@pytest.mark.timeout(60)
def test_credentials_set_reads_a_bounded_stdin(tmp_path: Path) -> None:
    with open("/dev/zero", "rb") as zero:
        run = run_btp_infra("credentials", "set", "prof", home=tmp_path, stdin=zero, timeout=20)
    assert run.returncode == 1, (run.returncode, run.stderr[-2000:])
    assert_bounded_line(one_error_line(run.stderr), "stdin", "KiB")


counted("set-stdin-is-dev-zero")


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("data", "use_stdin", "needle"),
    [
        (b"\xff\xfe" + json.dumps(good_key()).encode("utf-16-le"), False, "UTF-8"),
        (json.dumps(good_key()).encode() + b" " * 2**20, False, "KiB"),
        (json.dumps(good_key()).encode() + b" " * 2**20, True, "KiB"),
        (deep_json().encode(), False, "nested"),
        (huge_int_json().encode(), True, "digits"),
    ],
    ids=counted(
        "set-file-utf16",
        "set-file-of-1-mib",
        "set-stdin-of-1-mib",
        "set-file-nested-20000-levels",
        "set-stdin-integer-of-5000-digits",
    ),
)
def test_credentials_set_rejects_malformed_input_in_one_line(
    data: bytes, use_stdin: bool, needle: str, kr: PlaintextKeyring, tmp_path: Path
) -> None:
    path = tmp_path / "cis-key.json"
    path.write_bytes(data)
    args = ["credentials", "set", "prof"] + ([] if use_stdin else ["--file", str(path)])
    result = CliRunner().invoke(cli, args, input=data if use_stdin else None)
    assert result.exit_code == 1, (result.exit_code, result.output[-2000:], result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert_bounded_line(one_error_line(result.output), "stdin" if use_stdin else str(path), needle)
    assert keyring.get_password("btp-infra", "prof") is None


# ----------------------------------------------------------------------------------------------------------
# `plan --policy-config FILE`: regular file, bounded, UTF-8, bounded nesting — a usage error (exit 2)
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def one_stack(tmp_path: Path) -> Path:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.a.yaml").write_text(good_stack("alpha", GUID), encoding="utf-8")
    return stacks


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "make",
    [lambda d: fifo(d / "policy.json"), lambda d: Path("/dev/zero")],
    ids=counted("policy-config-is-a-fifo", "policy-config-is-dev-zero"),
)
def test_policy_config_special_files_are_usage_errors(
    make: Callable[[Path], Path], one_stack: Path, tmp_path: Path
) -> None:
    path = make(tmp_path)
    run = run_btp_infra(
        "plan",
        "--all",
        "--stacks-dir",
        str(one_stack),
        "--policy-config",
        str(path),
        home=tmp_path,
        timeout=20,
    )
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    assert_bounded_line(one_error_line(run.stderr), str(path), "not a regular file")
    assert run.stdout == ""


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"all": "advisory", "note": "\xff\xfe"}', "UTF-8"),
        (b'{"all": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b'{"btp-tenant-resource-quota": {"x": ' + b"9" * 5000 + b"}}", "digits"),
        (b'{"all": "advisory"}' + b" " * (2 * 2**20), "MiB"),
    ],
    ids=counted(
        "policy-config-not-utf8",
        "policy-config-nested-100000-levels",
        "policy-config-integer-of-5000-digits",
        "policy-config-of-2-mib",
    ),
)
def test_policy_config_malformed_files_are_one_line_usage_errors(
    data: bytes, needle: str, one_stack: Path, tmp_path: Path
) -> None:
    path = tmp_path / "policy.json"
    path.write_bytes(data)
    result = CliRunner().invoke(
        cli, ["plan", "--all", "--stacks-dir", str(one_stack), "--policy-config", str(path)]
    )
    assert result.exit_code == 2, (result.exit_code, result.output[-2000:], result.exception)
    assert_bounded_line(one_error_line(result.output), str(path), needle)


# ----------------------------------------------------------------------------------------------------------


def test_the_catalog_is_counted() -> None:
    assert len(CASES) == len(set(CASES)), "case ids are unique"
    assert len(CASES) >= 45, len(CASES)


@pytest.fixture(autouse=True)
def _no_credentials_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("BTP_CIS_SERVICE_KEY", "BTP_CIS_SERVICE_KEY_FILE", "BTP_INFRA_KEYRING_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    yield

"""Reliability suite: fault matrix, bad input catalog, secret leak check (whole tenant runs)."""

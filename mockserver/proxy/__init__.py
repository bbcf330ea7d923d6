"""`capmock proxy`: the validation proxy (server.py), its command (cli.py) and
its recorder (record.py, mask.py). A server beside the mock, not part of it:
it imports the contract layer, the data and the sandbox file's format only."""

"""One client module per sequencer, behind `protocol.Sequencer`, chosen in `registry`."""

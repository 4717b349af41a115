"""scripts/bench as a package, one module per job; cli.main is the entry point."""

// Entry point: parse the command line and run. Everything else lives in the modules.
TandemCommand.main()

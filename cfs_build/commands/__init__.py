"""One module per `cfs` verb; each exposes HELP, EXAMPLE, add_arguments(parser) and run(args)."""

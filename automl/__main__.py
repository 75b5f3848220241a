from automl.cli.entry import main

main()

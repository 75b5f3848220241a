from automl.entry import main

main()

from archon.cli import main

main()

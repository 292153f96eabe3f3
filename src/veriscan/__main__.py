from veriscan.cli import main

main()

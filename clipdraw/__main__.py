from clipdraw.cli import main

main()

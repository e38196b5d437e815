from qatys.cli import main

main()

from relay_scheduler.app import main

main()

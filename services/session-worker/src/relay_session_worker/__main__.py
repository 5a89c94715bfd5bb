from relay_session_worker.app import main

main()

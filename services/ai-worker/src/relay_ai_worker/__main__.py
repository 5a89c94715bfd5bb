from relay_ai_worker.app import main

main()

from relay_lead_service.app import main

main()

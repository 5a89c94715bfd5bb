from relay_gateway.app import main

main()

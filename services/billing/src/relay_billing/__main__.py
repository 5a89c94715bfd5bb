from relay_billing.app import main

main()

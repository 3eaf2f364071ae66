from mlpsweep.cli import main

raise SystemExit(main())

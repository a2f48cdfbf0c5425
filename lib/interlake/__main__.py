from interlake.cli import main

raise SystemExit(main())

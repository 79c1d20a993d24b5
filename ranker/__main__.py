from ranker.runtime.cli import main

raise SystemExit(main())

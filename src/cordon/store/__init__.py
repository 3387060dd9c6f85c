"""Storage: tables, migrations, engines and transactions, and the access filters."""

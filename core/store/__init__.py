"""Every line of SQL Folio runs: the connection, the migrations and the queries."""

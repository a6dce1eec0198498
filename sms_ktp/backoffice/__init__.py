"""The staff's side: accounts, roles and sessions, the application search, the messages view and
the dashboard's figures."""

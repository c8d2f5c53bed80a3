"""Deliberately invalid Python: --module broken_syntax must fail at start-up with the SyntaxError."""

def application(environ, start_response)
    return []

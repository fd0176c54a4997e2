"""The Deluge language: lexer, parser, compiler, runtime and built-ins."""

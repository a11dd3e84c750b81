"""axis's command line: typer commands that parse their input, call `axis.app` and render what
it returns as tables or `-o json|yaml`. A peer of `axis.api`, which it never imports."""

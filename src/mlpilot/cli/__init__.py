"""The command-line interface (typer + rich); it calls mlpilot.api only."""

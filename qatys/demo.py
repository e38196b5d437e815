import click


@click.group("demo")
def demo_group() -> None:
    """Developer demo."""

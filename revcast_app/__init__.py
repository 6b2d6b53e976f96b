"""Entry points over the revcast core: the `revcast` command and the revenue forecast API."""

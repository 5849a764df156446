"""One module per ``radzoo`` subcommand: ``add_arguments(parser)`` and ``run(args) -> int``.

Modules import heavy libraries inside ``run`` so that ``radzoo --help`` stays fast.
"""

"""Run directories: their layout (``layout``), saving one (``store``) and opening a model from one (``open``)."""

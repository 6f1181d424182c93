"""What the chapters measure: one module per chapter (the probes they all share are ``nets.probes``).

``nets.models`` holds the architectures and nothing a chapter measures; the experiments, tables and
studies a chapter runs on them live here (``nets.lab.alexnet`` for the AlexNet chapter, and so on), and
what a chapter draws lives in ``nets.viz`` and ``nets.widgets``. Every module here may use the models;
no model imports anything from here.
"""

"""How the models in data/models/ are made: the CCP dataset, detector training and soups, the
embedding head and the backbone fine-tune. The engine in core/ never imports this package."""

"""`lookbot eval` and `lookbot bench`: their parts, metrics and report rendering. The engine in
core/ never imports this package."""

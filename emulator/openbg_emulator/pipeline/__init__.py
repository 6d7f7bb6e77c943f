"""The image pipeline: pure functions, each testable alone.

decode → segment → refine → layout → compose → encode (plus classify and shadow).
"""

"""Helpers of the book's chapters: one-call chapter set-up (``notebook``), shared figures (``plots``) and
the results and analyses chapters' figures (``figures``). Nothing in ``vna`` or ``vna.study`` imports them."""

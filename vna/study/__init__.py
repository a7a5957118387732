"""The study: what is run (grids), how (runner, pipeline), what is kept (results) and what is concluded
(stats, report, analyses). It builds on the paper's method (``vna``) and ``vna.data``; the book's
chapters (``vna.chapters``) build on it."""

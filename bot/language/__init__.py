"""Danish as citizens write it, for every process that reads their messages: one folded spelling
and typo-tolerant matching (`text`), CPR numbers (`privacy`), and checking their answers (`validation`)."""

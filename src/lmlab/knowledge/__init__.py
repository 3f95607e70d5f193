"""WordNet reader, graph triples, TransE, SenseBERT masks and K-BERT trees (issue 21)."""

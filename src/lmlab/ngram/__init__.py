"""ngram"""

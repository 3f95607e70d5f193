"""wordvec"""

"""utilities"""

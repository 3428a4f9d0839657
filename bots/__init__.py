"""Example bots built on persona."""

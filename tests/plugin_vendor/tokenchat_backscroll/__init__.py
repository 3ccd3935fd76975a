"""A backscroll plugin for the invented tokenchat API: `provider` and its sandbox `fake`."""

"""The EC2 vocabulary: ids, states, times, filters, paging, tags, errors and the other rules every
handler speaks by.
"""

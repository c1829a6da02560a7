"""Exports for evaluators: the CSV zip, the root CSV and XLSX, in Central's layout, streamed.

`downloads` is the entry: access, the merged fields of every version, the layout, filters and
the audit entry, before the first byte. `tables` (pure) lays submissions out as Central's and
Briefcase's tables; `plan` holds what was asked and how the stream is cut; `csv_table`,
`csv_zip` and `xlsx_book` (with the pure `xlsx_parts`) write the formats. Rows come from
`submissions.records`, straight from a database cursor, so memory stays flat.
"""

from collect.domain.exports.downloads import CSV, XLSX, ZIP, Download, csv_root, csv_zip, xlsx
from collect.domain.exports.plan import Options, Tuning

__all__ = [
    "CSV",
    "XLSX",
    "ZIP",
    "Download",
    "Options",
    "Tuning",
    "csv_root",
    "csv_zip",
    "xlsx",
]

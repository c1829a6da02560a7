"""The web pages (HTML) for admins, supervisors and evaluators.

`views` is the blueprint: every route reads the request, calls the domain (or a page-data
module here, which gathers what one page shows from the domain's reads) and renders a
template. `data` serves the account, project, app-user and form pages, `submissions` the
submission table and page, `evaluation` the report page.
"""

from collect.web.pages.views import bp, error_page, page_http_error

__all__ = ["bp", "error_page", "page_http_error"]

"""The WSGI entry point gunicorn serves: `gunicorn wsgi:app`."""

from collect import create_app

app = create_app()

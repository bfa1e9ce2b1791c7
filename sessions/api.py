from ninja import NinjaAPI

api = NinjaAPI(title="Tutoring platform API", version="1")

from fastapi import APIRouter

router = APIRouter(tags=["api_keys"])

"""Benchmark-only views, routed only when IOC_BENCHMARK_VIEWS=1 (benchmarks/run.py sets it).

`accepted` is the ceiling the webhook is measured against: a Django view that answers 202 with
no database call, behind the same server, workers and middleware as the webhook.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@login_not_required
@require_POST
def accepted(request):
    return JsonResponse({"status": "accepted"}, status=202)


urlpatterns = [path("bench/accepted/", accepted, name="bench-accepted")]

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from shop.orders import selectors as orders

from .forms import EmailAuthenticationForm


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


@never_cache
@login_required
def account(request):
    return render(request, "accounts/account.html", {"orders": orders.orders_of(user=request.user)})
